# Mautic's PUT .../{id}/edit creates the resource when the id is not the caller's ("create or
# replace", as Mautic does): another organization's id gives the intruder a new resource of its
# own (201, a new id), or a 400 for the owner's ids in the body; never the owner's resource, which
# stays unchanged (the state check below).
CREATES_WHEN_MISSING = {f"PUT /mautic/api/{kind}/{{mautic_{family}_id}}/edit"
                        for kind, family in (("contacts", "contact"), ("segments", "segment"),
                                             ("emails", "email"), ("campaigns", "campaign"))}


def created_its_own(path: str, response, answer) -> bool:
    """A create-or-replace answered by a new resource (not the one at `path`) or refused by a 400."""
    if response.status_code == 400:
        return True
    made = next(iter(answer.values()), None) if response.status_code == 201 and isinstance(answer, dict) else None
    return isinstance(made, dict) and f"/{made.get('id')}/" not in path



# in the 404 loop:
        if problem and operation.name in CREATES_WHEN_MISSING and created_its_own(path, response, answer):
            continue
