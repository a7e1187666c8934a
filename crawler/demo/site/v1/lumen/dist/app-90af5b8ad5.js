/* placeholder for the ExDoc v0.34.0 client bundle: renders the sidebar from sidebarNodes */
