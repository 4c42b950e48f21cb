"""The one-file binary's entry point: `hub ...` exactly as `python hub.py ...`.

freeze_support() comes first: a process that multiprocessing spawns from the binary (hypercorn or
uvicorn workers with `--workers N`) is the binary itself run with multiprocessing's arguments."""

import multiprocessing

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from hub import main

    main()
