"""Plugins that imitate or connect outside products: `n8n` (n8n's public API and webhooks over
the Hub's workflows) and, to come, mautic, dms and messaging. Each subfolder is its own plugin;
this package only groups them."""
