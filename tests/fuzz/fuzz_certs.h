/* Fixed certificates for the fuzz targets and tests/fuzz/gen_corpus.c.
 *
 * Made once with the openssl command line (see README.md here). They are
 * fixed, not generated per run, so that the handshakes recorded in the seed
 * corpus carry exactly the certificates (and fingerprints) the targets
 * expect: replayed against a target, a recorded flight passes the
 * fingerprint check and the signatures, and the fuzzer starts from a
 * complete handshake instead of from a ClientHello. Test keys: never use
 * them for anything else. */
#ifndef RTCSEC_FUZZ_CERTS_H
#define RTCSEC_FUZZ_CERTS_H

static const char fuzz_client_cert_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBkTCCATegAwIBAgIUXHiGj+/OxoejPloox1mvq/+B80YwCgYIKoZIzj0EAwIw\n"
    "HTEbMBkGA1UEAwwScnRjc2VjLWZ1enotY2xpZW50MCAXDTI2MTEyNjE0NTExMloY\n"
    "DzIxMjYxMTAyMTQ1MTEyWjAdMRswGQYDVQQDDBJydGNzZWMtZnV6ei1jbGllbnQw\n"
    "WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAASZAxCG4nsJet1cUKJ9uUa2WjElFjaW\n"
    "nVWM5wdeQaIZ0d0XbHXeKJve8wd/0vIFRr3Mfnahv6wPIzKEVNmcjPtio1MwUTAd\n"
    "BgNVHQ4EFgQUrQTeGGOXUBGjjjJsxop/lZMAwzowHwYDVR0jBBgwFoAUrQTeGGOX\n"
    "UBGjjjJsxop/lZMAwzowDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBF\n"
    "AiEAiuTZGQ4cOwnZnJs3PynKkO6LhtEESdk506bzmVquA1ECIHiF9rITKecuAiEg\n"
    "Yi596wVHAZxitdop44+8Madlu15S\n"
    "-----END CERTIFICATE-----\n";

static const char fuzz_client_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgsSjQtOi7CLoUnaVG\n"
    "wZuCZvlYOPumyEaqjQUjs3YHlAuhRANCAASZAxCG4nsJet1cUKJ9uUa2WjElFjaW\n"
    "nVWM5wdeQaIZ0d0XbHXeKJve8wd/0vIFRr3Mfnahv6wPIzKEVNmcjPti\n"
    "-----END PRIVATE KEY-----\n";

static const char fuzz_server_cert_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBkjCCATegAwIBAgIUc3myKHjEvRG/6FjZ+lASmDOa5c8wCgYIKoZIzj0EAwIw\n"
    "HTEbMBkGA1UEAwwScnRjc2VjLWZ1enotc2VydmVyMCAXDTI2MTEyNjE0NTExMloY\n"
    "DzIxMjYxMTAyMTQ1MTEyWjAdMRswGQYDVQQDDBJydGNzZWMtZnV6ei1zZXJ2ZXIw\n"
    "WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARSpYR29dzwr7fXWlImmJqM/h+aGm1S\n"
    "x/yoNgfmV7L6SAJSiNJpcbJx8see7+wxCgeCzK1h7Bi/83JGRPoX+qUBo1MwUTAd\n"
    "BgNVHQ4EFgQUCBvEExiCRMPbT4cvjZlseHwrIB0wHwYDVR0jBBgwFoAUCBvEExiC\n"
    "RMPbT4cvjZlseHwrIB0wDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNJADBG\n"
    "AiEAtjpA3smY7yY3aWaNCLTXTGjxDxOL/pA9joesonkk8WgCIQCasClWHtWVnMRs\n"
    "prN/Yc4x+ykuO0Tx5MwbNWwHn6H9aw==\n"
    "-----END CERTIFICATE-----\n";

static const char fuzz_server_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgEnKRNCIFrMJAPWJG\n"
    "5AjsJnMIwVirhPwAtXUQvMcSK8GhRANCAARSpYR29dzwr7fXWlImmJqM/h+aGm1S\n"
    "x/yoNgfmV7L6SAJSiNJpcbJx8see7+wxCgeCzK1h7Bi/83JGRPoX+qUB\n"
    "-----END PRIVATE KEY-----\n";

static const char fuzz_server_rsa_cert_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIDJTCCAg2gAwIBAgIUU9vFgIezRUX/arXn9fEZYaJvXJcwDQYJKoZIhvcNAQEL\n"
    "BQAwITEfMB0GA1UEAwwWcnRjc2VjLWZ1enotc2VydmVyLXJzYTAgFw0yNjExMjYx\n"
    "NDUxMTNaGA8yMTI2MTEwMjE0NTExM1owITEfMB0GA1UEAwwWcnRjc2VjLWZ1enot\n"
    "c2VydmVyLXJzYTCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAL7hSJbO\n"
    "eAY5sXYGuADWkf1BduySJiotuVU0C0BpHEvkrGlzmWwUaKmPLynyfdNcDw5UfE/8\n"
    "rwdTRJzjsHaexx3CHsb1jO4bIybuFLojIUXRc0Of6ri/gR/KDlK5aYjfOziRQX9c\n"
    "Lt8LxCzY70YzCizBpg4eAhsgixhNRwRasJrZ4NdkMZ41dC1tOr4XTt0BlNI2+efG\n"
    "qdwi3MkVIjyC52vbskG/JsrOvC+4Gysa8my4FHipI0z+Ouwc4T4x7YrJEYGN4Jic\n"
    "xgpVDlsLQGJLIJBZ6DTY03I7RQHnXYqStTHlRk5HLvs2Q+vyR+9tVR1jeZeILp72\n"
    "dc1xDf+cP25xyZ8CAwEAAaNTMFEwHQYDVR0OBBYEFPOSZpmXnAT4DP+MkkbpxAZM\n"
    "NLzRMB8GA1UdIwQYMBaAFPOSZpmXnAT4DP+MkkbpxAZMNLzRMA8GA1UdEwEB/wQF\n"
    "MAMBAf8wDQYJKoZIhvcNAQELBQADggEBAK44ib3pPfbE60bS912Piqs6K+Ry+p+5\n"
    "GyyguO9cTNrtATg3RGNx1+TpGwYWRm7WTWwyI9d32cijPXOGxbXnO6QGnGKNMEiM\n"
    "t7ynyLDBOqEKUKlIV6qSYhsFyEi2cuOnDT2HT19thh231m5UUiQJW/x0kgc6KCF9\n"
    "ez3f5M7Yo7R8V3Dy/YZZd/xAzwKWRdQJrraFhCikKcXyBqlGFmbIsEXje8hR4L1P\n"
    "fIUXrBALu2SpznYBamTpOAcGFgfiNSKhrPrjIcXWAapv0nrQbR1m5B4AzVazzupx\n"
    "HNOyF6ILQbdy+6iuqcejSTiQnOEKcCi+EbIi/3pmvVbfWTVNEkFBD3s=\n"
    "-----END CERTIFICATE-----\n";

static const char fuzz_server_rsa_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC+4UiWzngGObF2\n"
    "BrgA1pH9QXbskiYqLblVNAtAaRxL5Kxpc5lsFGipjy8p8n3TXA8OVHxP/K8HU0Sc\n"
    "47B2nscdwh7G9YzuGyMm7hS6IyFF0XNDn+q4v4Efyg5SuWmI3zs4kUF/XC7fC8Qs\n"
    "2O9GMwoswaYOHgIbIIsYTUcEWrCa2eDXZDGeNXQtbTq+F07dAZTSNvnnxqncItzJ\n"
    "FSI8gudr27JBvybKzrwvuBsrGvJsuBR4qSNM/jrsHOE+Me2KyRGBjeCYnMYKVQ5b\n"
    "C0BiSyCQWeg02NNyO0UB512KkrUx5UZORy77NkPr8kfvbVUdY3mXiC6e9nXNcQ3/\n"
    "nD9uccmfAgMBAAECggEANpUsUTd8WedgiCwWrOKuv3lbXP3T3QbTMvqdZw9HkKo0\n"
    "5TixvBa/8RCpP3kAoxJ1mbbuD19l25XjjmuLl/gCX0+VxnYMFUB8VlMJaUrHZnQk\n"
    "3kcZ8zeL4H/ChcRQWdvfzua2kIlXO9/c+qgUEAJjW/YKGopZNtGhBNOARc37J2Q8\n"
    "TEpq9zLrcPGXN7kt6piLLKzGpTj/LxeMXRsAZ7yoREpUoQuNxVxwCFXBZJIis4Ol\n"
    "qMroFuFjWKtrTd5cm5ydTN2rueO6HlyGijBnOeJS8nvX+c/nAOzC28v9ah4cr0vB\n"
    "Ga05oieS8JWcqjUoL9mVP5pf5Ndypfpxjy58sDdAjQKBgQD1QXppGI/mEdsz6n6S\n"
    "45GuFkL+pNka+Z/J6+9g/EiffKYrnlLVkSWO9j7SJgsQT3CN2NkR5HV1SSXXfrbm\n"
    "LXtD4ej+WxKkGDFXO+oYoREfH1vwyX+bsdVDRSC85e7hvO9SE3qbPU7Q8fXwh5i3\n"
    "zteMHvtMbwlEwq+YiA4FoOmKvQKBgQDHPfxtEKevJ1oZcPGUIyY1FiAEjOjy9ygD\n"
    "2WEMDRpyGrV2TyoGzipbNwEQpzH5vNxN3eJR2L8p/2g6MKyMKboB3hXjDyZmIvrT\n"
    "H0fSYZApxOHt6p9tW1RXF7wZcjS3WGei1gQizqtSfYGEx9SU7tiS712T//Jxru/h\n"
    "+by2omMZiwKBgD6PJjdaoZIRKfXzMbgsPkPGv+4OhKah2AV8nkIB+FBeTlDAAOcj\n"
    "MA5od5vJQnc1nENCdhRfTyrMrs9qLiNGpLOrE3CWMIoU9bkHum3v39std5lS/K7t\n"
    "TLXtEy28BRQlynIIL/UbTVh078QcAnOYWlkOqhFUHWwhsQLaaaE763aNAoGBALv+\n"
    "W8hY969H1Ta+H+NjyvA6IRnKDx75X9NJ78zcLEDPvLqV9ZSYQNTyMFoTOA9pSQFb\n"
    "w+jwN2ecKy8EsDpMQMr0TviAWf3zMXG1SSJTliAjOf4v7B/WFd1bcssbvGvmyVqW\n"
    "zy48jOB3tZagqo+gUc9KdaRo0sy7gHJbHtnAnPsDAoGAAxzNbnJn1N67aa6Cbydu\n"
    "IiCbPXIIKhBOzloMywXjziQHN17qKi0/7Oacuhe0HTm9oW1w3CQXnqLIwPJvXiQj\n"
    "3GAEA2/1WFanFZnmPbWeEY/VaRdGaXWPFlOEuSNGTjwpzhsV4FTcXUqQNVW+slhi\n"
    "gm7Bhor0LUfAXmE62HSHiz4=\n"
    "-----END PRIVATE KEY-----\n";

#endif
