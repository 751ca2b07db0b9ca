using Trading.Backend.Identity;
using Trading.Backend.Storage;

namespace Trading.Backend.Hosting;

/// <summary>Creates the demo users and accounts once; existing data is never touched.</summary>
internal static class DemoData
{
    public static readonly (string Username, string Password, string AccountId, long CashCents, (string Symbol, long Quantity, long CostCents)[] Positions)[] Users =
    [
        ("alice", "wonderland", "acc-alice", 100_000_00, [("ACME", 50, 50 * 180_00), ("HOOL", 10, 10 * 400_00)]),
        ("bob", "builder", "acc-bob", 50_000_00, [("STRK", 5, 5 * 640_00)]),
    ];

    public static async Task SeedAsync(Database database, CancellationToken cancellationToken)
    {
        var missing = Users.Where(u => database.Read(connection =>
        {
            using var command = Database.Command(connection, null, "SELECT 1 FROM users WHERE username = @u", ("@u", u.Username));
            return command.ExecuteScalar() is null;
        })).ToList();
        if (missing.Count == 0)
        {
            return;
        }

        // Hash outside the write lock: PBKDF2 is deliberately slow.
        var hashes = missing.ToDictionary(u => u.Username, u => PasswordHasher.Hash(u.Password));
        await database.WriteAsync((connection, transaction) =>
        {
            foreach (var user in missing)
            {
                Database.Execute(connection, transaction, "INSERT INTO accounts (account_id, cash_cents) VALUES (@a, @c) ON CONFLICT DO NOTHING",
                    ("@a", user.AccountId), ("@c", user.CashCents));
                Database.Execute(connection, transaction, "INSERT INTO users (username, password_hash, account_id) VALUES (@u, @h, @a) ON CONFLICT DO NOTHING",
                    ("@u", user.Username), ("@h", hashes[user.Username]), ("@a", user.AccountId));
                foreach (var (symbol, quantity, cost) in user.Positions)
                {
                    Database.Execute(connection, transaction,
                        "INSERT INTO positions (account_id, symbol, quantity, cost_cents) VALUES (@a, @s, @q, @c) ON CONFLICT DO NOTHING",
                        ("@a", user.AccountId), ("@s", symbol), ("@q", quantity), ("@c", cost));
                }
            }

            return 0;
        }, cancellationToken);
    }
}
