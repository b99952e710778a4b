#!/usr/bin/env bash
# Deploys the CloudFormation stack to LocalStack (or, without
# AWS_ENDPOINT_URL, to the AWS account your credentials point at).
# LocalStack emulates only some of these services; see docs/operations/aws.md.
set -euo pipefail
cd "$(dirname "$0")"
endpoint=${AWS_ENDPOINT_URL-http://localhost:4566}
stack=${STACK_NAME:-pms}
args=()
if [ -n "$endpoint" ]; then
  args+=(--endpoint-url="$endpoint")
  export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
  export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
fi
aws "${args[@]}" cloudformation deploy \
  --stack-name "$stack" \
  --template-file pms.yaml \
  --capabilities CAPABILITY_IAM \
  --parameter-overrides EnvironmentName="$stack"
aws "${args[@]}" cloudformation describe-stacks --stack-name "$stack" --query 'Stacks[0].Outputs' --output table
