"""What rnncast keeps on disk, and how it writes safely: the model file (`artifact`),
training checkpoints, atomic writes of every output (`atomic`), lock files, and config
files (`configfile`)."""
