var versionNodes = [{"version":"v1.5.0","url":"https://example.invalid/lumen_live/1.5.0"}];
