/// An ordered list of header fields with case-insensitive lookup by name.
///
/// Field lines keep the order and spelling they arrived in, so that a proxied message carries
/// its fields in the original order. Names are compared ASCII case-insensitively (RFC 9110 §5.1).
public struct HTTPHeaders: Sendable, Sequence, ExpressibleByDictionaryLiteral {
    /// The field lines as (name, value) pairs, in order.
    public private(set) var fields: [(name: String, value: String)] = []

    public init() {}

    public init(_ fields: [(String, String)]) {
        self.fields = fields.map { (name: $0.0, value: $0.1) }
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }

    public var count: Int { fields.count }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        fields.makeIterator()
    }

    /// The value of the first field named `name`, or nil when there is none.
    public subscript(name: String) -> String? {
        fields.first { Self.namesMatch($0.name, name) }?.value
    }

    /// Returns every value of the fields named `name`, in order.
    public func values(for name: String) -> [String] {
        fields.filter { Self.namesMatch($0.name, name) }.map(\.value)
    }

    /// Returns whether at least one field is named `name`.
    public func contains(_ name: String) -> Bool {
        fields.contains { Self.namesMatch($0.name, name) }
    }

    /// Appends a field line, keeping any existing fields of the same name.
    public mutating func add(name: String, value: String) {
        fields.append((name: name, value: value))
    }

    /// Replaces every field named `name` with one field line carrying `value`.
    public mutating func replaceOrAdd(name: String, value: String) {
        remove(name)
        add(name: name, value: value)
    }

    /// Removes every field named `name`.
    public mutating func remove(_ name: String) {
        fields.removeAll { Self.namesMatch($0.name, name) }
    }

    /// Removes every field whose name satisfies `predicate`, which receives the name lowercased.
    public mutating func removeAll(where predicate: (String) -> Bool) {
        fields.removeAll { predicate($0.name.lowercased()) }
    }

    /// Returns the comma-separated list elements of the fields named `name`, trimmed and lowercased.
    ///
    /// Used for list-valued fields such as `Connection` and `Transfer-Encoding`. Empty elements
    /// are skipped, as RFC 9110 §5.6.1 allows.
    public func tokens(for name: String) -> [String] {
        values(for: name).flatMap { value in
            value.split(separator: ",").compactMap { element in
                let token = element.trimmingOWS().lowercased()
                return token.isEmpty ? nil : token
            }
        }
    }

    static func namesMatch(_ lhs: String, _ rhs: String) -> Bool {
        lhs.utf8.count == rhs.utf8.count && lhs.lowercased() == rhs.lowercased()
    }
}

extension StringProtocol {
    /// Returns the string without leading and trailing spaces and horizontal tabs (OWS in RFC 9110).
    func trimmingOWS() -> String {
        let isOWS: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isOWS($0) }) else { return "" }
        let last = lastIndex(where: { !isOWS($0) })!
        return String(self[first...last])
    }
}
