"""Checks on the live device: services, logins, TLS, web input, IoT protocols."""
