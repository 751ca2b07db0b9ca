using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using System.Data.Common;
using Trading.Backend.Feed;
using Trading.Backend.Market;
using Trading.Backend.Storage;
using Trading.V1;

namespace Trading.Backend.Trading;

/// <summary>
/// Accounts, positions and orders. Every state change of an order and the order update that announces it
/// commit in one transaction, so an accepted order is never missing from its account's update stream and a
/// rejected one leaves nothing behind.
/// </summary>
internal sealed class OrderBook(Database database, DatabaseEventFeed feed, QuoteBook quotes, TimeProvider time)
{
    public const long MaxQuantity = 1_000_000;
    public const int MaxClientOrderIdLength = 64;
    private const double MaxLimitPrice = 10_000_000;

    public static string StreamOf(string accountId) => "orders/" + accountId;

    public Portfolio GetPortfolio(string accountId) => database.Read(connection =>
    {
        var cash = ReadCash(connection, null, accountId)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"Account '{accountId}' does not exist."));
        var portfolio = new Portfolio
        {
            AccountId = accountId,
            Cash = cash / 100.0,
            AsOf = Timestamp.FromDateTimeOffset(Now()),
        };
        using var command = Database.Command(connection, null,
            "SELECT symbol, quantity, cost_cents FROM positions WHERE account_id = @account AND quantity > 0 ORDER BY symbol",
            ("@account", accountId));
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var symbol = reader.GetString(0);
            var quantity = reader.GetInt64(1);
            var cost = reader.GetInt64(2) / 100.0;
            var last = quotes.TryGet(symbol, out var quote) ? quote.Price : cost / quantity;
            var value = Math.Round(quantity * last, 2);
            portfolio.Positions.Add(new Position
            {
                Symbol = symbol,
                Quantity = quantity,
                AveragePrice = Math.Round(cost / quantity, 4),
                LastPrice = last,
                MarketValue = value,
                UnrealizedPnl = Math.Round(value - cost, 2),
            });
        }

        portfolio.MarketValue = Math.Round(portfolio.Positions.Sum(p => p.MarketValue), 2);
        portfolio.Equity = Math.Round(portfolio.Cash + portfolio.MarketValue, 2);
        return portfolio;
    });

    public Order GetOrder(string accountId, string orderId) => database.Read(connection =>
        ReadOrder(connection, null, accountId, orderId)
        ?? throw new RpcException(new Status(StatusCode.NotFound, $"Order '{orderId}' does not exist in account '{accountId}'.")));

    public async Task<Order> PlaceAsync(PlaceOrderRequest request, CancellationToken cancellationToken)
    {
        var type = request.Type == OrderType.Unspecified ? OrderType.Market : request.Type;
        Validate(request, type);
        if (!quotes.TryGet(request.Symbol, out _))
        {
            throw InvalidArgument($"symbol '{request.Symbol}' is not listed.");
        }

        var order = await database.WriteAsync((connection, transaction) =>
        {
            database.LockAccount(connection, transaction, request.AccountId);
            if (request.ClientOrderId.Length > 0 && FindByClientOrderId(connection, transaction, request.AccountId, request.ClientOrderId) is { } existing)
            {
                return SameOrder(existing, request, type)
                    ? existing
                    : throw new RpcException(new Status(StatusCode.AlreadyExists,
                        $"client_order_id '{request.ClientOrderId}' was already used for a different order ({existing.OrderId})."));
            }

            var now = Now();
            var placed = new Order
            {
                OrderId = "ord_" + Guid.NewGuid().ToString("N")[..20],
                AccountId = request.AccountId,
                ClientOrderId = request.ClientOrderId,
                Symbol = request.Symbol,
                Side = request.Side,
                Type = type,
                Quantity = request.Quantity,
                LimitPrice = type == OrderType.Limit ? Math.Round(request.LimitPrice, 2) : 0,
                Status = OrderStatus.Accepted,
                CreateTime = Timestamp.FromDateTimeOffset(now),
                UpdateTime = Timestamp.FromDateTimeOffset(now),
            };
            var price = ExecutionPrice(placed);
            // A resting buy must be affordable at its limit now; it is checked again when it fills.
            CheckAffordable(connection, transaction, placed, price ?? placed.LimitPrice);
            WriteOrder(connection, transaction, placed, insert: true);
            Publish(connection, transaction, placed);
            if (price is { } fill)
            {
                Fill(connection, transaction, placed, fill);
            }

            return placed;
        }, cancellationToken);

        feed.Published(StreamOf(request.AccountId));
        return order;
    }

    public async Task<Order> CancelAsync(string accountId, string orderId, CancellationToken cancellationToken)
    {
        var order = await database.WriteAsync((connection, transaction) =>
        {
            database.LockAccount(connection, transaction, accountId);
            var order = ReadOrder(connection, transaction, accountId, orderId)
                ?? throw new RpcException(new Status(StatusCode.NotFound, $"Order '{orderId}' does not exist in account '{accountId}'."));
            if (order.Status != OrderStatus.Accepted)
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition,
                    $"Order '{orderId}' is {StatusName(order.Status)} and can no longer be cancelled."));
            }

            order.Status = OrderStatus.Canceled;
            order.UpdateTime = Timestamp.FromDateTimeOffset(Now());
            WriteOrder(connection, transaction, order, insert: false);
            Publish(connection, transaction, order);
            return order;
        }, cancellationToken);

        feed.Published(StreamOf(accountId));
        return order;
    }

    /// <summary>Fills every resting limit order whose limit the current price has reached.</summary>
    public async Task FillRestingOrdersAsync(CancellationToken cancellationToken)
    {
        var resting = database.Read(connection => ReadOrders(connection, null,
            "WHERE status = @status AND type = @type", ("@status", (int)OrderStatus.Accepted), ("@type", (int)OrderType.Limit)));
        // In account order, so that two transactions locking several accounts can never wait on each other.
        var crossing = resting.Where(o => ExecutionPrice(o) is not null).Select(o => (o.AccountId, o.OrderId))
            .OrderBy(o => o.AccountId, StringComparer.Ordinal).ThenBy(o => o.OrderId, StringComparer.Ordinal).ToList();
        if (crossing.Count == 0)
        {
            return;
        }

        var accounts = await database.WriteAsync((connection, transaction) =>
        {
            var touched = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (accountId, orderId) in crossing)
            {
                // Re-read inside the transaction: the order may have been cancelled since.
                database.LockAccount(connection, transaction, accountId);
                if (ReadOrder(connection, transaction, accountId, orderId) is not { Status: OrderStatus.Accepted } order
                    || ExecutionPrice(order) is not { } price)
                {
                    continue;
                }

                try
                {
                    CheckAffordable(connection, transaction, order, price);
                    Fill(connection, transaction, order, price);
                }
                catch (RpcException ex) when (ex.StatusCode == StatusCode.FailedPrecondition)
                {
                    order.Status = OrderStatus.Rejected;
                    order.RejectReason = ex.Status.Detail;
                    order.UpdateTime = Timestamp.FromDateTimeOffset(Now());
                    WriteOrder(connection, transaction, order, insert: false);
                    Publish(connection, transaction, order);
                }

                touched.Add(accountId);
            }

            return touched;
        }, cancellationToken);

        foreach (var account in accounts)
        {
            feed.Published(StreamOf(account));
        }
    }

    private static void Validate(PlaceOrderRequest request, OrderType type)
    {
        if (request.Side == OrderSide.Unspecified)
        {
            throw InvalidArgument("side is required: ORDER_SIDE_BUY or ORDER_SIDE_SELL.");
        }

        if (!System.Enum.IsDefined(request.Side) || !System.Enum.IsDefined(type))
        {
            throw InvalidArgument("side or type has an unknown value.");
        }

        if (request.Quantity is < 1 or > MaxQuantity)
        {
            throw InvalidArgument($"quantity must be between 1 and {MaxQuantity:N0}; got {request.Quantity}.");
        }

        if (type == OrderType.Limit && !(request.LimitPrice > 0 && request.LimitPrice <= MaxLimitPrice))
        {
            throw InvalidArgument($"limit_price must be positive and at most {MaxLimitPrice:N0} for limit orders; got {request.LimitPrice}.");
        }

        if (type == OrderType.Market && request.LimitPrice != 0)
        {
            throw InvalidArgument("limit_price must be zero for market orders.");
        }

        if (request.ClientOrderId.Length > MaxClientOrderIdLength)
        {
            throw InvalidArgument($"client_order_id must have at most {MaxClientOrderIdLength} characters.");
        }
    }

    private static RpcException InvalidArgument(string message) => new(new Status(StatusCode.InvalidArgument, message));

    private static bool SameOrder(Order existing, PlaceOrderRequest request, OrderType type) =>
        existing.Symbol == request.Symbol && existing.Side == request.Side && existing.Type == type
        && existing.Quantity == request.Quantity && existing.LimitPrice == Math.Round(request.LimitPrice, 2);

    /// <summary>The price the order executes at now, or null when it must keep resting.</summary>
    private double? ExecutionPrice(Order order)
    {
        if (!quotes.TryGet(order.Symbol, out var quote))
        {
            return null;
        }

        var price = order.Side == OrderSide.Buy ? quote.Ask : quote.Bid;
        return order.Type switch
        {
            OrderType.Limit when order.Side == OrderSide.Buy => price <= order.LimitPrice ? price : null,
            OrderType.Limit => price >= order.LimitPrice ? price : null,
            _ => price,
        };
    }

    private static void CheckAffordable(DbConnection connection, DbTransaction transaction, Order order, double price)
    {
        if (order.Side == OrderSide.Buy)
        {
            var cost = Cents(price) * order.Quantity;
            var cash = ReadCash(connection, transaction, order.AccountId)
                ?? throw new RpcException(new Status(StatusCode.NotFound, $"Account '{order.AccountId}' does not exist."));
            if (cost > cash)
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition,
                    $"Insufficient cash: {order.Quantity} {order.Symbol} at {price:F2} needs {cost / 100.0:F2}, the account has {cash / 100.0:F2}."));
            }
        }
        else
        {
            var held = ReadPosition(connection, transaction, order.AccountId, order.Symbol).Quantity;
            if (order.Quantity > held)
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition,
                    $"Insufficient shares: selling {order.Quantity} {order.Symbol}, the account holds {held}."));
            }
        }
    }

    private void Fill(DbConnection connection, DbTransaction transaction, Order order, double price)
    {
        var priceCents = Cents(price);
        var amount = priceCents * order.Quantity;
        var (held, cost) = ReadPosition(connection, transaction, order.AccountId, order.Symbol);
        if (order.Side == OrderSide.Buy)
        {
            held += order.Quantity;
            cost += amount;
            Database.Execute(connection, transaction, "UPDATE accounts SET cash_cents = cash_cents - @amount WHERE account_id = @account",
                ("@amount", amount), ("@account", order.AccountId));
        }
        else
        {
            // Selling keeps the average price of the remaining shares.
            cost -= held == 0 ? 0 : (long)Math.Round((double)cost * order.Quantity / held);
            held -= order.Quantity;
            Database.Execute(connection, transaction, "UPDATE accounts SET cash_cents = cash_cents + @amount WHERE account_id = @account",
                ("@amount", amount), ("@account", order.AccountId));
        }

        Database.Execute(connection, transaction,
            """
            INSERT INTO positions (account_id, symbol, quantity, cost_cents) VALUES (@account, @symbol, @quantity, @cost)
            ON CONFLICT (account_id, symbol) DO UPDATE SET quantity = excluded.quantity, cost_cents = excluded.cost_cents
            """,
            ("@account", order.AccountId), ("@symbol", order.Symbol), ("@quantity", held), ("@cost", held == 0 ? 0 : cost));

        order.Status = OrderStatus.Filled;
        order.FilledQuantity = order.Quantity;
        order.AverageFillPrice = priceCents / 100.0;
        order.UpdateTime = Timestamp.FromDateTimeOffset(Now());
        WriteOrder(connection, transaction, order, insert: false);
        Publish(connection, transaction, order);
    }

    private void Publish(DbConnection connection, DbTransaction transaction, Order order) =>
        feed.Append(connection, transaction, StreamOf(order.AccountId), order.ToByteArray());

    // Times are stored with millisecond precision; truncating up front makes a placed order read back identically.
    private DateTimeOffset Now() => DateTimeOffset.FromUnixTimeMilliseconds(time.GetUtcNow().ToUnixTimeMilliseconds());

    private static long Cents(double dollars) => (long)Math.Round(dollars * 100, MidpointRounding.AwayFromZero);

    private static string StatusName(OrderStatus status) => status switch
    {
        OrderStatus.Filled => "filled",
        OrderStatus.Canceled => "cancelled",
        OrderStatus.Rejected => "rejected",
        _ => status.ToString(),
    };

    private static long? ReadCash(DbConnection connection, DbTransaction? transaction, string accountId)
    {
        using var command = Database.Command(connection, transaction,
            "SELECT cash_cents FROM accounts WHERE account_id = @account", ("@account", accountId));
        return command.ExecuteScalar() is long cash ? cash : null;
    }

    private static (long Quantity, long CostCents) ReadPosition(DbConnection connection, DbTransaction transaction, string accountId, string symbol)
    {
        using var command = Database.Command(connection, transaction,
            "SELECT quantity, cost_cents FROM positions WHERE account_id = @account AND symbol = @symbol",
            ("@account", accountId), ("@symbol", symbol));
        using var reader = command.ExecuteReader();
        return reader.Read() ? (reader.GetInt64(0), reader.GetInt64(1)) : (0, 0);
    }

    private static Order? ReadOrder(DbConnection connection, DbTransaction? transaction, string accountId, string orderId) =>
        ReadOrders(connection, transaction, "WHERE account_id = @account AND order_id = @order", ("@account", accountId), ("@order", orderId))
            .SingleOrDefault();

    private static Order? FindByClientOrderId(DbConnection connection, DbTransaction transaction, string accountId, string clientOrderId) =>
        ReadOrders(connection, transaction, "WHERE account_id = @account AND client_order_id = @client", ("@account", accountId), ("@client", clientOrderId))
            .SingleOrDefault();

    private static List<Order> ReadOrders(DbConnection connection, DbTransaction? transaction, string where, params (string, object?)[] parameters)
    {
        using var command = Database.Command(connection, transaction,
            $"""
            SELECT order_id, account_id, client_order_id, symbol, side, type, quantity, limit_price_cents, status,
                   filled_quantity, average_fill_price, reject_reason, create_time_ms, update_time_ms
            FROM orders {where}
            """, parameters);
        using var reader = command.ExecuteReader();
        var orders = new List<Order>();
        while (reader.Read())
        {
            orders.Add(new Order
            {
                OrderId = reader.GetString(0),
                AccountId = reader.GetString(1),
                ClientOrderId = reader.GetString(2),
                Symbol = reader.GetString(3),
                Side = (OrderSide)reader.GetInt32(4),
                Type = (OrderType)reader.GetInt32(5),
                Quantity = reader.GetInt64(6),
                LimitPrice = reader.GetInt64(7) / 100.0,
                Status = (OrderStatus)reader.GetInt32(8),
                FilledQuantity = reader.GetInt64(9),
                AverageFillPrice = reader.GetDouble(10),
                RejectReason = reader.GetString(11),
                CreateTime = Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(12))),
                UpdateTime = Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(13))),
            });
        }

        return orders;
    }

    private static void WriteOrder(DbConnection connection, DbTransaction transaction, Order order, bool insert)
    {
        var sql = insert
            ? """
              INSERT INTO orders (order_id, account_id, client_order_id, symbol, side, type, quantity, limit_price_cents, status,
                                  filled_quantity, average_fill_price, reject_reason, create_time_ms, update_time_ms)
              VALUES (@id, @account, @client, @symbol, @side, @type, @quantity, @limit, @status, @filled, @average, @reason, @created, @updated)
              """
            : """
              UPDATE orders SET status = @status, filled_quantity = @filled, average_fill_price = @average,
                                reject_reason = @reason, update_time_ms = @updated
              WHERE order_id = @id
              """;
        Database.Execute(connection, transaction, sql,
            ("@id", order.OrderId), ("@account", order.AccountId), ("@client", order.ClientOrderId), ("@symbol", order.Symbol),
            ("@side", (int)order.Side), ("@type", (int)order.Type), ("@quantity", order.Quantity), ("@limit", Cents(order.LimitPrice)),
            ("@status", (int)order.Status), ("@filled", order.FilledQuantity), ("@average", order.AverageFillPrice),
            ("@reason", order.RejectReason), ("@created", order.CreateTime.ToDateTimeOffset().ToUnixTimeMilliseconds()),
            ("@updated", order.UpdateTime.ToDateTimeOffset().ToUnixTimeMilliseconds()));
    }
}
