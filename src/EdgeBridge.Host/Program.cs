using EdgeBridge.Host;

await EdgeHost.Create(new WebApplicationOptions { Args = args }).RunAsync();
