var versionNodes = [{"version":"v2.0.0","url":"https://example.invalid/lumen/2.0.0"},{"version":"v1.4.2","url":"https://example.invalid/lumen/1.4.2"}];
