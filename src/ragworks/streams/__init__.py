"""Stream consumers: messages become documents, deletes and service calls; results and dead letters go
back out (``ragworks consume``)."""
