/// Error responses made by the server: a small HTML page for browsers, one line of text otherwise.
public enum ErrorPage {
    /// Builds a response with `status` whose body shows `title` and `message`.
    ///
    /// The body is HTML when the request's `Accept` field lists `text/html` with a non-zero
    /// quality, and `status title: message` as plain text otherwise (also when `head` is nil).
    public static func response(
        status: Int, title: String, message: String, for head: HTTPRequestHead?
    ) -> HTTPResponse {
        var headers: HTTPHeaders = ["Cache-Control": "no-store"]
        if let head, acceptsHTML(head.headers) {
            headers.add(name: "Content-Type", value: "text/html; charset=utf-8")
            let page = """
                <!DOCTYPE html>
                <html><head><meta charset="utf-8"><title>\(status) \(escape(title))</title>
                <style>body{font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;\
                padding:0 1em;color:#222}h1{font-size:1.4em}p{color:#555}</style></head>
                <body><h1>\(status) \(escape(title))</h1><p>\(escape(message))</p></body></html>

                """
            return HTTPResponse(status: status, headers: headers, body: Array(page.utf8))
        }
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        return HTTPResponse(
            status: status, headers: headers, body: Array("\(status) \(title): \(message)\n".utf8))
    }

    static func acceptsHTML(_ headers: HTTPHeaders) -> Bool {
        for range in headers.values(for: "accept").joined(separator: ",").split(separator: ",") {
            let parameters = range.split(separator: ";").map { $0.trimmingOWS().lowercased() }
            guard parameters.first == "text/html" else { continue }
            let zeroQuality = parameters.dropFirst().contains { parameter in
                parameter.hasPrefix("q=") && (Double(parameter.dropFirst(2)) ?? 1) == 0
            }
            if !zeroQuality { return true }
        }
        return false
    }

    static func escape(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
