package alerts

import (
	"slices"
	"testing"
	"time"

	"github.com/linewatch/linewatch/identity"
)

// TestActionsFollowTheStateMachine: the verbs offered to a role are those
// Apply accepts from it; an operator is never offered Shelve on an urgent
// alarm, a viewer nothing.
func TestActionsFollowTheStateMachine(t *testing.T) {
	for _, c := range []struct {
		name  string
		a     Alarm
		role  string
		wants []string
	}{
		{"operator, unack high", Alarm{Priority: High, State: Unacknowledged, Active: true}, identity.RoleOperator,
			[]string{VerbAck, VerbShelve, VerbComment}},
		{"operator, unack urgent: no shelve", Alarm{Priority: Urgent, State: Unacknowledged, Active: true}, identity.RoleOperator,
			[]string{VerbAck, VerbComment}},
		{"supervisor, unack urgent", Alarm{Priority: Urgent, State: Unacknowledged, Active: true}, identity.RoleSupervisor,
			[]string{VerbAck, VerbShelve, VerbComment, VerbOutOfService}},
		{"operator, acknowledged", Alarm{Priority: Low, State: Acknowledged, Active: true}, identity.RoleOperator,
			[]string{VerbShelve, VerbComment}},
		{"operator, cleared unack", Alarm{Priority: Low, State: RTNUnack}, identity.RoleOperator,
			[]string{VerbAck, VerbShelve, VerbComment}},
		{"operator, latched", Alarm{Priority: Medium, State: Latched}, identity.RoleOperator,
			[]string{VerbReset, VerbShelve, VerbComment}},
		{"operator, shelved", Alarm{Priority: Medium, State: Shelved, Active: true}, identity.RoleOperator,
			[]string{VerbUnshelve, VerbComment}},
		{"supervisor, out of service", Alarm{Priority: Medium, State: OutOfService}, identity.RoleSupervisor,
			[]string{VerbComment, VerbReturnToService}},
		{"viewer", Alarm{Priority: High, State: Unacknowledged, Active: true}, identity.RoleViewer, nil},
		{"unknown role", Alarm{Priority: High, State: Unacknowledged, Active: true}, "qa", nil},
	} {
		c.a.ID = "s/l/m/t/limits/hi"
		if got := Actions(c.a, c.role); !slices.Equal(got, c.wants) {
			t.Errorf("%s: %v, want %v", c.name, got, c.wants)
		}
	}
}

func TestShelveLimitPerRole(t *testing.T) {
	p := Policy{ShelveMax: 8 * time.Hour, SupervisorShelveMax: 24 * time.Hour}
	for role, want := range map[string]time.Duration{identity.RoleOperator: 8 * time.Hour, identity.RoleSupervisor: 24 * time.Hour, identity.RoleViewer: 0} {
		if got := p.ShelveLimit(role); got != want {
			t.Errorf("%s: %s, want %s", role, got, want)
		}
	}
}
