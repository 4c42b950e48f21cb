"""Machine-learning plugins: `recommender` (items, interactions, training, ANN serving) and
`llm` (a local OpenAI-compatible model that calls hub functions, and AI agents). Each
subfolder is its own plugin; this package only groups them."""
