"""Message brokers and change feeds behind one port (``base.py``): Redis Streams, NATS JetStream, Kafka,
Google Pub/Sub, PostgreSQL table changes and MongoDB change streams."""
