systemctl enable router-ready.service
