"""Flask extensions, created without an application (bound in create_app)."""

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf import CSRFProtect

csrf = CSRFProtect()
login_manager = LoginManager()
migrate = Migrate()
