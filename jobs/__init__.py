"""Background work: RQ entry points (tasks, schedule, worker, queue, broker, embedded Redis) above the sync
pipeline's packages, in the order a sync flows through them: fetch/kigo -> ical -> rules, stored by sync."""
