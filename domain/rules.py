"""The clause catalogue: who is who in the Order, as data the aggregates check against."""

from __future__ import annotations

from dataclasses import dataclass

# Tenant kinds (p.2, p.5, p.22).
SCHOOL = "school"
TVET_COLLEGE = "tvet_college"
POSTSECONDARY_COLLEGE = "postsecondary_college"
UNIVERSITY = "university"
DISTRICT_DEPARTMENT = "district_department"
REGIONAL_DEPARTMENT = "regional_department"

ORGANIZATION_KINDS = (SCHOOL, TVET_COLLEGE, POSTSECONDARY_COLLEGE, UNIVERSITY)
AUTHORITY_KINDS = (DISTRICT_DEPARTMENT, REGIONAL_DEPARTMENT)
TENANT_KINDS = ORGANIZATION_KINDS + AUTHORITY_KINDS
COLLEGE_KINDS = (TVET_COLLEGE, POSTSECONDARY_COLLEGE)

LANGUAGES = ("ru", "kk")


@dataclass(frozen=True)
class ParentRule:
    """Which authority a kind of tenant reports to, and the clause that says so."""

    parent_kind: str | None
    clause: str
    reason: str


# p.5: methodical work of schools is led by the district (city) department's cabinet;
# of TVET and post-secondary colleges by the regional (city) department's cabinet (also p.22);
# universities lead their own through their structural units.
PARENT_RULES: dict[str, ParentRule] = {
    SCHOOL: ParentRule(DISTRICT_DEPARTMENT, "p.5", "a school reports to a district (city) education department"),
    TVET_COLLEGE: ParentRule(REGIONAL_DEPARTMENT, "p.22", "a college reports to a regional (city) education department"),
    POSTSECONDARY_COLLEGE: ParentRule(
        REGIONAL_DEPARTMENT, "p.22", "a college reports to a regional (city) education department"
    ),
    DISTRICT_DEPARTMENT: ParentRule(
        REGIONAL_DEPARTMENT, "p.5", "a district department reports to a regional (city) education department"
    ),
    UNIVERSITY: ParentRule(None, "p.5", "a university leads its methodical work through its own units"),
    REGIONAL_DEPARTMENT: ParentRule(None, "p.5", "a regional department reports to no tenant of the platform"),
}

# Roles (p.3, p.12, p.14, p.17, p.20, p.30, p.31). 'operator' is the platform's, never a person's.
HEAD = "head"
DEPUTY_HEAD = "deputy_head"
METHODIST = "methodist"
TEACHER = "teacher"
INDUSTRIAL_TRAINING_MASTER = "industrial_training_master"
CLASS_TEACHER = "class_teacher"
PRESCHOOL_EDUCATOR = "preschool_educator"
LIBRARIAN = "librarian"
AUDITOR = "auditor"

ROLES = (
    HEAD,
    DEPUTY_HEAD,
    METHODIST,
    TEACHER,
    INDUSTRIAL_TRAINING_MASTER,
    CLASS_TEACHER,
    PRESCHOOL_EDUCATOR,
    LIBRARIAN,
    AUDITOR,
)

# Roles that teach: members of associations and commissions (p.16, p.25, p.26).
TEACHING_ROLES = (TEACHER, INDUSTRIAL_TRAINING_MASTER, CLASS_TEACHER, PRESCHOOL_EDUCATOR)


@dataclass(frozen=True)
class RoleRule:
    """Where a role exists, and the clause that places it there."""

    kinds: tuple[str, ...]
    clause: str
    reason: str


ROLE_RULES: dict[str, RoleRule] = {
    HEAD: RoleRule(TENANT_KINDS, "p.3", "every organization and authority has a head"),
    DEPUTY_HEAD: RoleRule(TENANT_KINDS, "p.3", "the deputy head leads methodical work (p.3, p.14)"),
    # p.3: a methodist is a pedagogical worker of an education organization, except higher education.
    METHODIST: RoleRule(
        (SCHOOL, TVET_COLLEGE, POSTSECONDARY_COLLEGE, DISTRICT_DEPARTMENT, REGIONAL_DEPARTMENT),
        "p.3",
        "a methodist works in any education organization except a university",
    ),
    TEACHER: RoleRule(ORGANIZATION_KINDS, "p.20", "teachers work in education organizations"),
    # p.16: industrial-training masters are counted with teachers in TVET and post-secondary colleges.
    INDUSTRIAL_TRAINING_MASTER: RoleRule(
        COLLEGE_KINDS, "p.16", "industrial-training masters work in TVET and post-secondary colleges"
    ),
    # p.25: class teachers and preschool educators form school associations.
    CLASS_TEACHER: RoleRule((SCHOOL,), "p.25", "class teachers work in schools"),
    PRESCHOOL_EDUCATOR: RoleRule((SCHOOL,), "p.25", "preschool educators belong to school associations"),
    # p.27: school librarians form district associations; libraries exist at every level.
    LIBRARIAN: RoleRule(ORGANIZATION_KINDS, "p.27", "librarians work in education organizations"),
    # Outside the Rules: auditors read the decision history and may sit in any tenant.
    AUDITOR: RoleRule(TENANT_KINDS, "", "auditors may belong to any tenant"),
}
