"""Benchmarks of pysoftmax against its peers: ``python -m pysoftmax bench``.

Layers, each importing only the ones before it (tests/test_bench.py checks it):

- timing: the median of repeated calls, callables timed in turns, the progress display;
- peers: one call of an operation by pysoftmax, its NumPy reference, scipy, torch or
  scikit-learn, and what is installed and what the machine is;
  floors: the least work an operation must do on its inputs (copy them, read them), timed on
  the same inputs in the same run;
- kernels: the inputs, the rows and their measurement; train: the training comparison;
  contention: 1 against 2 threads, with another process keeping one core busy;
- report: the tables, the JSON record, the plot;
- cli: the command's arguments and runs.
"""
