package alerts

import (
	"time"

	"github.com/linewatch/linewatch/identity"
)

// OfferedVerbs are the commands a client may offer on an alarm, in the
// order a summary shows them.
var OfferedVerbs = []string{VerbAck, VerbReset, VerbShelve, VerbUnshelve, VerbComment, VerbOutOfService, VerbReturnToService}

// Actions lists the verbs a user with the users-file role userRole may
// send for alarm a as it is now: the ones the state machine (Apply, with
// its authorisation rules) would accept, probed with a reason and the
// shortest shelve. A client offers exactly these, so nobody is offered a
// button only to be told that their role may not use it. Configured
// limits (shelve_max) are still checked when the command is sent.
func Actions(a Alarm, userRole string) []string {
	role := roleOf(identity.User{Role: userRole})
	if role == "" {
		return nil
	}
	probe := Policy{ShelveMax: time.Minute}
	var out []string
	for _, verb := range OfferedVerbs {
		in := Input{Event: verbEvents[verb], Role: role, By: "probe", Reason: "probe", Duration: time.Minute}
		if _, _, err := Apply(a, in, a.UpdatedAt, probe); err == nil {
			out = append(out, verb)
		}
	}
	return out
}

// shelveLimit is the longest shelve role may set.
func (p Policy) shelveLimit(role Role) time.Duration {
	if role == RoleSupervisor {
		return max(p.SupervisorShelveMax, p.ShelveMax)
	}
	return p.ShelveMax
}

// ShelveLimit is the longest shelve a user with the users-file role
// userRole may set (0: the role may not shelve), so a client offers no
// longer durations.
func (p Policy) ShelveLimit(userRole string) time.Duration {
	role := roleOf(identity.User{Role: userRole})
	if role == "" {
		return 0
	}
	return p.shelveLimit(role)
}
