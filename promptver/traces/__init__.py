"""Production traces: spans imported from OpenTelemetry (docs/production.md), what served,
online scores, and eval cases made from traces."""
