# The console's one image: web, worker and scheduler differ only by their command (see docker-compose.yml).
FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
ENV INSTANCE_PATH=/app/instance
EXPOSE 8000
CMD ["gunicorn", "-c", "gunicorn.conf.py", "-w", "4", "-b", "0.0.0.0:8000", "wsgi:app"]
