"""The run database and the run lifecycle: tables, the engine, the Store's reads and writes, run
states, artifact paths, workers and the processes they start."""
