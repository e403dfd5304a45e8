import Foundation

/// An account: one person or team, identified by its SSH keys.
public struct Account: Sendable, Equatable {
    /// Twelve random lowercase hex characters; part of every host name of the account.
    public var id: String
    public var balanceCents: Int64
    public var recoveryEmail: String?
    public var createdAt: Date
}

/// An SSH public key registered to an account.
public struct AccountKey: Sendable, Equatable {
    public var id: String
    public var accountID: String
    public var publicKey: SSHPublicKey
    public var name: String
    public var createdAt: Date
}
