namespace Trading.Backend.Identity;

/// <summary>The authenticated user behind a call.</summary>
internal sealed record Caller(string Username, string AccountId);
