"""One composition root per process role: embedded (API + workers), api, worker, consumer."""
