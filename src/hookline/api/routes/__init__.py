"""One module per resource, each an APIRouter mounted under /api/v1."""
