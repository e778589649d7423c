package testenv

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// SecretsManager serves GetSecretValue for secrets (name → SecretString)
// over the AWS JSON 1.1 protocol on a local port, so the real AWS SDK can
// be pointed at it. Unknown names answer ResourceNotFoundException and
// names starting with "denied/" answer AccessDeniedException. It returns
// the environment that points the SDK at it with test credentials.
func SecretsManager(t testing.TB, secrets map[string]string) []string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" ||
			!strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKIDTEST/") {
			http.Error(w, "unsigned or not GetSecretValue", http.StatusBadRequest)
			return
		}
		var req struct{ SecretId string }
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		fail := func(kind, msg string) {
			w.Header().Set("X-Amzn-Errortype", kind)
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"__type": kind, "message": msg})
		}
		value, ok := secrets[req.SecretId]
		switch {
		case strings.HasPrefix(req.SecretId, "denied/"):
			fail("AccessDeniedException", "User is not authorized to perform: secretsmanager:GetSecretValue")
		case !ok:
			fail("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		default:
			_ = json.NewEncoder(w).Encode(map[string]any{
				"ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:" + req.SecretId + "-AbCdEf", "Name": req.SecretId,
				"SecretString": value, "VersionId": "v1", "VersionStages": []string{"AWSCURRENT"},
			})
		}
	}))
	t.Cleanup(srv.Close)
	home := t.TempDir()
	return []string{
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + srv.URL,
		"AWS_ACCESS_KEY_ID=AKIDTEST",
		"AWS_SECRET_ACCESS_KEY=test-secret-access-key",
		"AWS_REGION=eu-west-1",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + home + "/config",
		"AWS_SHARED_CREDENTIALS_FILE=" + home + "/credentials",
	}
}
