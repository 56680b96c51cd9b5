"""Alert state: what each subscription was last alerted about, so a run posts only what is worth saying.

`settings` (what to connect to) and `policy` (pure decisions) import nothing heavy; `store`
(Table Storage) is imported where a run needs it.
"""
