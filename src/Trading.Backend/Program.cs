using Trading.Backend;

await BackendApplication.Create(args).RunAsync();
