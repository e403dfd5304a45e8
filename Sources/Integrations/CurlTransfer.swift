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
        let easy = try EasyHandle()
        let buffers = TransferBuffers(upload: upload ?? [])
        let context = Unmanaged.passRetained(buffers)
        defer { context.release() }

        configure(easy, context: context.toOpaque())
        let status = easy.status == CURLE_OK ? curl_easy_perform(easy.handle) : easy.status
        guard status == CURLE_OK else {
            throw CurlError(code: status.rawValue, message: easy.errorMessage(status))
        }
        var code = 0
        _ = particle_curl_response_code(easy.handle, &code)
        return (code, buffers.response)
    }

    private func configure(_ easy: EasyHandle, context: UnsafeMutableRawPointer) {
        easy.set(CURLOPT_URL, url)
        easy.set(CURLOPT_PROTOCOLS_STR, protocols)
        easy.set(CURLOPT_REDIR_PROTOCOLS_STR, protocols)
        easy.set(CURLOPT_NOSIGNAL, 1)
        easy.set(CURLOPT_CONNECTTIMEOUT_MS, Int(connectTimeout.components.seconds * 1000))
        easy.set(CURLOPT_TIMEOUT_MS, Int(timeout.components.seconds * 1000))
        easy.set(CURLOPT_USE_SSL, Int(useSSL.rawValue))
        if let username { easy.set(CURLOPT_USERNAME, username) }
        if let password { easy.set(CURLOPT_PASSWORD, password) }
        easy.set(CURLOPT_WRITEFUNCTION, callback: curlWriteCallback)
        easy.set(CURLOPT_WRITEDATA, pointer: context)
        if !headers.isEmpty { easy.set(CURLOPT_HTTPHEADER, list: headers) }
        if let postFields {
            easy.set(CURLOPT_POSTFIELDSIZE, postFields.count)
            easy.set(CURLOPT_COPYPOSTFIELDS, String(decoding: postFields, as: UTF8.self))
        }
        if let mailFrom {
            easy.set(CURLOPT_MAIL_FROM, mailFrom)
            easy.set(CURLOPT_MAIL_RCPT, list: mailRecipients)
            easy.set(CURLOPT_UPLOAD, 1)
            easy.set(CURLOPT_READFUNCTION, callback: curlReadCallback)
            easy.set(CURLOPT_READDATA, pointer: context)
        }
    }
}

/// A libcurl easy handle with the lists it uses, freed together. `status` keeps the first
/// failed `curl_easy_setopt`, after which further options are skipped.
private final class EasyHandle {
    let handle: UnsafeMutableRawPointer
    private(set) var status = CURLE_OK
    private var lists: [UnsafeMutablePointer<curl_slist>?] = []
    /// Buffer for libcurl's message about a failed transfer, which must live as long as the handle.
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(
        capacity: Int(CURL_ERROR_SIZE) + 1)

    init() throws {
        guard let handle = curl_easy_init() else {
            throw CurlError(code: CURLE_FAILED_INIT.rawValue, message: "curl_easy_init failed")
        }
        self.handle = handle
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        status = particle_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
    }

    deinit {
        curl_easy_cleanup(handle)
        for list in lists { curl_slist_free_all(list) }
        errorBuffer.deallocate()
    }

    func set(_ option: CURLoption, _ value: Int) {
        apply { particle_curl_setopt_long(handle, option, value) }
    }

    func set(_ option: CURLoption, _ value: String) {
        apply { particle_curl_setopt_string(handle, option, value) }
    }

    func set(_ option: CURLoption, pointer: UnsafeMutableRawPointer) {
        apply { particle_curl_setopt_pointer(handle, option, pointer) }
    }

    func set(_ option: CURLoption, callback: particle_curl_data_callback) {
        apply { particle_curl_setopt_callback(handle, option, callback) }
    }

    func set(_ option: CURLoption, list items: [String]) {
        var list: UnsafeMutablePointer<curl_slist>?
        for item in items { list = curl_slist_append(list, item) }
        lists.append(list)
        apply { particle_curl_setopt_slist(handle, option, list) }
    }

    /// libcurl's message for `status`: the detail in the error buffer, else the generic text.
    func errorMessage(_ status: CURLcode) -> String {
        let detail = String(cString: errorBuffer)
        return detail.isEmpty ? String(cString: curl_easy_strerror(status)) : detail
    }

    private func apply(_ setopt: () -> CURLcode) {
        if status == CURLE_OK { status = setopt() }
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
    _ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int,
    _ context: UnsafeMutableRawPointer?
) -> Int {
    guard let data, let context else { return 0 }
    let buffers = Unmanaged<TransferBuffers>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    buffers.response.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length))
    return length
}

private func curlReadCallback(
    _ buffer: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int,
    _ context: UnsafeMutableRawPointer?
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
