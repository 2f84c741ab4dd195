"""The inference engine: onnxruntime sessions per model file and device (shared in the process), provider
selection and options, batching of concurrent calls into one device run by priority, and the runtime fallback
of a failing GPU session to the CPU with a probe back."""
