using Trading.Backend.Storage;

namespace Trading.Backend.Identity;

/// <summary>Users and the account each one owns.</summary>
internal sealed class UserStore(Database database)
{
    public (string PasswordHash, string AccountId)? Find(string username) => database.Read(connection =>
    {
        using var command = Database.Command(connection, null,
            "SELECT password_hash, account_id FROM users WHERE username = @username", ("@username", username));
        using var reader = command.ExecuteReader();
        return reader.Read() ? (reader.GetString(0), reader.GetString(1)) : ((string, string)?)null;
    });
}
