var versionNodes = [{"version":"v1.4.2","url":"https://example.invalid/lumen/1.4.2"}];
