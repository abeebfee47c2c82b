"""Operations: /healthz and /metrics, the Prometheus metrics, and how fresh and how late the fleet runs."""
