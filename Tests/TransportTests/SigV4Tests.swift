import OutpostConfig
import Testing

@testable import Transport

@Suite struct SigV4Tests {
    /// AWS's published Signature Version 4 test suite, case "get-vanilla".
    @Test func matchesTheAWSTestSuite() {
        let signer = SigV4Signer(region: "us-east-1", service: "service")
        let headers = signer.sign(
            method: "GET", url: "https://example.amazonaws.com/", body: [],
            credentials: .init(accessKey: "AKIDEXAMPLE", secretKey: Secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")),
            amzDate: "20150830T123600Z")
        let auth = headers.first { $0.0 == "Authorization" }?.1
        #expect(
            auth
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                + "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        #expect(headers.first { $0.0 == "X-Amz-Date" }?.1 == "20150830T123600Z")
    }

    @Test func temporaryCredentialsSignTheirToken() {
        let signer = SigV4Signer(region: "eu-west-1")
        let headers = signer.sign(
            method: "POST", url: "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write",
            body: Array("x".utf8),
            credentials: .init(accessKey: "AK", secretKey: Secret("SK"), sessionToken: Secret("TOKEN")),
            amzDate: "20261125T000000Z")
        let auth = headers.first { $0.0 == "Authorization" }?.1 ?? ""
        #expect(auth.contains("Credential=AK/20261125/eu-west-1/aps/aws4_request"))
        #expect(auth.contains("SignedHeaders=host;x-amz-date;x-amz-security-token"))
        #expect(headers.contains { $0.0 == "X-Amz-Security-Token" && $0.1 == "TOKEN" })
    }

    @Test func canonicalPiecesAndDates() {
        #expect(SigV4Signer.canonicalQuery("b=2&a=1&a=0") == "a=0&a=1&b=2")
        #expect(SigV4Signer.encodePath("/a b/%7Ec") == "/a%20b/~c")
        #expect(SigV4Signer.amzDate(epochSeconds: 0) == "19700101T000000Z")
        #expect(SigV4Signer.amzDate(epochSeconds: 1_835_481_599) == "20280229T235959Z")
    }
}

@Suite struct URLAndFormTests {
    @Test func hostsAreSwappedKeepingEverythingElse() throws {
        let parts = try #require(URLParts("https://user:pw@10.0.0.5:8443/api/v1/write?x=1"))
        #expect(parts.host == "10.0.0.5")
        #expect(parts.hostAndPort == "10.0.0.5:8443")
        #expect(parts.replacingHost(with: "receiver.test") == "https://user:pw@receiver.test:8443/api/v1/write?x=1")
        let v6 = try #require(URLParts("http://[::1]:9090/metrics"))
        #expect(v6.host == "::1" && v6.hostAndPort == "[::1]:9090")
        #expect(URLParts("no-scheme") == nil)
        let proxy = try #require(parseProxy("http://bob:s3c@proxy.internal:3128"))
        #expect(proxy.host == "proxy.internal" && proxy.port == 3128 && proxy.user == "bob" && proxy.password == "s3c")
    }

    @Test func formEncoding() {
        #expect(formEncode("read write") == "read+write")
        #expect(formEncode("a&b=c/é") == "a%26b%3Dc%2F%C3%A9")
    }
}
