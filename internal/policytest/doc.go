// Package policytest runs a policy written for Terraform JSON plans with
// the Open Policy Agent on gwsync's plan documents. It is its own module so
// that OPA, and the many modules it needs, stay out of gwsync's build:
// run it with `cd internal/policytest && go test ./...`.
package policytest
