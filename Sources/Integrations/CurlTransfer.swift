import CCurl
import Foundation

/// A failed libcurl transfer: the `CURLcode` and libcurl's message for it.
struct CurlError: Error, CustomStringConvertible {
    var code: UInt32
    var message: String

    var description: String { "libcurl error \(code): \(message)" }
}

/// One blocking libcurl transfer with a libcurl easy handle: an HTTP POST, or an SMTP
/// submission when `mailFrom` is set.
///
/// `perform()` blocks for up to `timeout`, so callers run it on a dedicated thread.
struct CurlTransfer: Sendable {
    var url: String
    /// Protocols libcurl may use, including after redirects, like `http,https`.
    var protocols: String
    var headers: [String] = []
    /// The body of an HTTP POST.
    var postFields: [UInt8]?
    /// The envelope sender and recipients of an SMTP submission; `upload` is the message.
    var mailFrom: String?
    var mailRecipients: [String] = []
    var upload: [UInt8]?
    var username: String?
    var password: String?
    /// `CURLOPT_USE_SSL`: whether STARTTLS is tried, required or skipped.
    var useSSL: curl_usessl = CURLUSESSL_NONE
    var connectTimeout: Duration = .seconds(10)
    var timeout: Duration = .seconds(30)

    private static let globalInit: CURLcode = particle_curl_global_init()

    /// Runs the transfer and returns the last response code (an HTTP status or an SMTP reply
    /// code) and the response body.
    func perform() throws -> (code: Int, body: [UInt8]) {
        guard Self.globalInit == CURLE_OK else {
            throw CurlError(code: Self.globalInit.rawValue, message: "curl_global_init failed")
        }
        guard let handle = curl_easy_init() else {
            throw CurlError(code: CURLE_FAILED_INIT.rawValue, message: "curl_easy_init failed")
        }
        defer { curl_easy_cleanup(handle) }
        let buffers = TransferBuffers(upload: upload ?? [])
        let context = Unmanaged.passRetained(buffers)
        defer { context.release() }
        var headerList: UnsafeMutablePointer<curl_slist>?
        var recipientList: UnsafeMutablePointer<curl_slist>?
        defer {
            curl_slist_free_all(headerList)
            curl_slist_free_all(recipientList)
        }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)

        let status: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { errorPointer in
            var result = particle_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorPointer.baseAddress)
            func set(_ option: CURLoption, _ value: Int) {
                if result == CURLE_OK { result = particle_curl_setopt_long(handle, option, value) }
            }
            func set(_ option: CURLoption, _ value: String) {
                if result == CURLE_OK { result = particle_curl_setopt_string(handle, option, value) }
            }
            set(CURLOPT_URL, url)
            set(CURLOPT_PROTOCOLS_STR, protocols)
            set(CURLOPT_REDIR_PROTOCOLS_STR, protocols)
            set(CURLOPT_NOSIGNAL, 1)
            set(CURLOPT_CONNECTTIMEOUT_MS, Int(connectTimeout.components.seconds * 1000))
            set(CURLOPT_TIMEOUT_MS, Int(timeout.components.seconds * 1000))
            set(CURLOPT_USE_SSL, Int(useSSL.rawValue))
            if let username { set(CURLOPT_USERNAME, username) }
            if let password { set(CURLOPT_PASSWORD, password) }
            if result == CURLE_OK {
                result = particle_curl_setopt_callback(handle, CURLOPT_WRITEFUNCTION, curlWriteCallback)
            }
            if result == CURLE_OK {
                result = particle_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, context.toOpaque())
            }
            for header in headers { headerList = curl_slist_append(headerList, header) }
            if result == CURLE_OK, headerList != nil {
                result = particle_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList)
            }
            if let postFields {
                set(CURLOPT_POSTFIELDSIZE, postFields.count)
                set(CURLOPT_COPYPOSTFIELDS, String(decoding: postFields, as: UTF8.self))
            }
            if let mailFrom {
                set(CURLOPT_MAIL_FROM, mailFrom)
                for recipient in mailRecipients { recipientList = curl_slist_append(recipientList, recipient) }
                if result == CURLE_OK {
                    result = particle_curl_setopt_slist(handle, CURLOPT_MAIL_RCPT, recipientList)
                }
                set(CURLOPT_UPLOAD, 1)
                if result == CURLE_OK {
                    result = particle_curl_setopt_callback(handle, CURLOPT_READFUNCTION, curlReadCallback)
                }
                if result == CURLE_OK {
                    result = particle_curl_setopt_pointer(handle, CURLOPT_READDATA, context.toOpaque())
                }
            }
            guard result == CURLE_OK else { return result }
            return curl_easy_perform(handle)
        }

        guard status == CURLE_OK else {
            let detail = String(
                decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let message = detail.isEmpty ? String(cString: curl_easy_strerror(status)) : detail
            throw CurlError(code: status.rawValue, message: message)
        }
        var code = 0
        _ = particle_curl_response_code(handle, &code)
        return (code, buffers.response)
    }
}

/// The bytes a transfer sends and receives, reached from libcurl's callbacks through their
/// context pointer. Used only on the thread that runs the transfer.
private final class TransferBuffers {
    var response: [UInt8] = []
    let upload: [UInt8]
    var uploadOffset = 0

    init(upload: [UInt8]) { self.upload = upload }
}

private func curlWriteCallback(
    _ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?
) -> Int {
    guard let data, let context else { return 0 }
    let buffers = Unmanaged<TransferBuffers>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    buffers.response.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length))
    return length
}

private func curlReadCallback(
    _ buffer: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?
) -> Int {
    guard let buffer, let context else { return 0 }
    let buffers = Unmanaged<TransferBuffers>.fromOpaque(context).takeUnretainedValue()
    let length = min(size * count, buffers.upload.count - buffers.uploadOffset)
    guard length > 0 else { return 0 }
    buffers.upload.withUnsafeBytes { bytes in
        let source = bytes.baseAddress!.advanced(by: buffers.uploadOffset)
        UnsafeMutableRawPointer(buffer).copyMemory(from: source, byteCount: length)
    }
    buffers.uploadOffset += length
    return length
}
