var versionNodes = [{"version":"v2.0.0","url":"https://example.invalid/lumen_live/2.0.0"},{"version":"v1.5.0","url":"https://example.invalid/lumen_live/1.5.0"}];
