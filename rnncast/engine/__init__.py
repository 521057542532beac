"""The machinery of learning, in PyTorch: where networks run (`devices`), the one window ->
network-input recipe (`batches`), the networks (`models`, `decoders`), losses, the gradient
training loop (`loop`) and the echo state network's closed-form fit (`esn`), scaling and
value transforms, where the values stay (`staging`), CPU threads and torchrun (`distributed`).
It reports progress through events (`events`) and never prints."""
