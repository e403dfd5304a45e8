import Foundation

/// One row of an account's ledger. Every balance change is one of these, and the balance is
/// the sum of the account's amounts.
public struct LedgerTransaction: Sendable, Equatable {
    /// The reason for a balance change.
    public enum Kind: String, Sendable, CaseIterable {
        /// Money paid in through Stripe Checkout.
        case topup
        /// A charge for particles' compute and storage time; the amount is negative.
        case usage
        /// Credit given by the operator, such as the welcome credit of a new account.
        case grant
    }

    /// Sixteen random lowercase hex characters.
    public var id: String
    public var accountID: String
    /// Positive for credit, negative for charges.
    public var amountCents: Int64
    public var kind: Kind
    public var createdAt: Date
    /// An external id that may be credited only once, such as a Stripe Checkout Session id.
    public var reference: String?
    public var description: String

    public init(
        id: String? = nil, accountID: String, amountCents: Int64, kind: Kind,
        createdAt: Date, reference: String? = nil, description: String = ""
    ) {
        self.id = id ?? RandomID.hex(16)
        self.accountID = accountID
        self.amountCents = amountCents
        self.kind = kind
        self.createdAt = createdAt
        self.reference = reference
        self.description = description
    }

    /// The fields of one entry of `GET /v1/account/history`.
    public var json: JSON {
        .object([
            ("id", .string(id)), ("amount_cents", .int(amountCents)),
            ("type", .string(kind.rawValue)),
            ("created_at", JSON.time(createdAt)),
        ])
    }
}

/// An account whose stored balance differs from the sum of its ledger.
public struct LedgerDiscrepancy: Sendable, Equatable {
    public var accountID: String
    /// `accounts.balance_cents`.
    public var balanceCents: Int64
    /// The sum of the account's transactions.
    public var ledgerCents: Int64
}
