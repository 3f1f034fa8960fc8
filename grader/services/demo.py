"""The demo course the embedded setup starts with, so a new install has something to grade."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from grader.extensions import db
from grader.models import Course, Enrollment, Role, User
from grader.services.assignments import upsert_assignment

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
DEMO_COURSE = ("BT-AI", "Building Tomorrow: AI")
DEMO_ASSIGNMENTS = [("lab6", "Lab 6 - Deep Learning 1", FIXTURES / "lab6")]
DEMO_PEOPLE = [("student@example.edu", "Demo Student", Role.STUDENT),
               ("ta@example.edu", "Demo TA", Role.TA),
               ("instructor@example.edu", "Demo Instructor", Role.INSTRUCTOR)]


def load_demo() -> Course:
    """Create the demo course, its assignments and people; running it again changes nothing."""
    code, title = DEMO_COURSE
    course = db.session.scalar(select(Course).where(Course.code == code))
    if course is None:
        course = Course(code=code, title=title)
        db.session.add(course)
        db.session.flush()
    for slug, assignment_title, package_dir in DEMO_ASSIGNMENTS:
        upsert_assignment(course.id, slug, assignment_title, package_dir)
    for email, name, role in DEMO_PEOPLE:
        user = db.session.scalar(select(User).where(User.email == email))
        if user is None:
            user = User(email=email, name=name)
            db.session.add(user)
            db.session.flush()
        if db.session.scalar(select(Enrollment).where(Enrollment.user_id == user.id,
                                                      Enrollment.course_id == course.id)) is None:
            db.session.add(Enrollment(user_id=user.id, course_id=course.id, role=role))
    db.session.commit()
    return course
