"""The model service: the embedder (and optionally the LLM) served to other processes.

``ragworks model-serve`` runs it: one dynamic batcher (``batcher.py``) behind a gRPC server
(``grpc_server.py``, the ``model.proto`` service) and an OpenAI-compatible HTTP app (``http_app.py``).
"""
