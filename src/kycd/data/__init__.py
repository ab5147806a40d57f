"""Reference data shipped with kycd (risk country and activity lists)."""
