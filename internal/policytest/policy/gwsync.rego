# A policy written the Terraform way: it reads resource_changes[].change.actions
# of the JSON plan, as policies for Terraform plans do (conftest, OPA).
package gwsync.plan

import rego.v1

# No pull request may delete a device, whether by a delete or a replace.
deny contains msg if {
	some rc in input.resource_changes
	rc.type == "device"
	"delete" in rc.change.actions
	msg := sprintf("%s: deleting devices is not allowed (actions %v)", [rc.address, rc.change.actions])
}
