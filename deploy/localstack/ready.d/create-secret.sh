#!/bin/sh
# LocalStack runs this when it is ready: the secret compose.yaml's
# processes read their SECRET_KEY from (AWS_SECRETS_MANAGER_CONFIG). A
# new random key on each fresh start; on AWS you create it once, as
# docs/deploy-with-secrets.md shows.
set -e
key=$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=')
awslocal secretsmanager create-secret --name launchkit/production \
  --secret-string "{\"SECRET_KEY\": \"$key\"}" >/dev/null
echo "created the secret launchkit/production"
