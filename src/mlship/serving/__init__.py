"""The model service: FastAPI app, generated schemas, micro-batching, traffic modes."""
