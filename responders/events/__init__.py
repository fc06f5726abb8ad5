"""Event context: each tenant's own events index, for the analyst's host and user timelines.

`socpipe events index` (stage.py) indexes events.ecs into daily per-tenant indices named by names.py,
under the template of template.py, for tenants that opt in (`events_index` in rules/tenants.yaml);
`socpipe events prune` (prune.py) deletes the days past each tenant's retention.
"""
