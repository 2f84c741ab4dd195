"""Built-in tickets: follow-up work on events (assignee, status, comments, linked events), opened by hand or by
an escalation level."""
